"""Trials that end their own process, hang or lose their workers: each is
recorded for what it is (failed, timeout) or run again, and the search goes on."""
import functools
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter

import pytest

from fastnn import tune
from fastnn.tune import runners
from tune_helpers import ends_itself, hangs, interrupts_its_search, logged_run

needs_sigint = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT with os.kill")


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler for the test: a suite started in the
    background by a non-interactive shell inherits SIGINT ignored, and a
    Ctrl-C test would then wait out its objective."""
    import signal
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def by_x(result):
    return {t.params["x"]: (t.status, t.error) for t in result.trials}


@pytest.fixture
def cluster_factory():
    """``make(allowed_failures=None)``: a LocalCluster of 2 worker processes with
    1 thread each, each with a nanny that restarts it; closed after the test."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import dask

    opened = []

    def make(allowed_failures=None):
        settings = {} if allowed_failures is None else {"distributed.scheduler.allowed-failures": allowed_failures}
        with dask.config.set(settings):  # read when the scheduler starts
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                               dashboard_address=":0")
        client = distributed.Client(cluster)
        opened.append((client, cluster))
        return client, cluster

    yield make
    for client, cluster in opened:
        client.close()
        cluster.close()


# -- trials that end their own run ----------------------------------------------------

EXITS = {1: "the objective called sys.exit(3)", 2: "the objective called sys.exit('no more')",
         3: "the objective raised KeyboardInterrupt: from the objective"}


def check_exits(result):
    outcome = by_x(result)
    for x, error in EXITS.items():
        assert outcome[x] == ("failed", error)
    assert outcome[0] == outcome[5] == ("ok", None)
    return outcome


def test_a_trial_that_exits_fails_alone_in_this_process():
    check_exits(tune.GridSearch({"x": [0, 1, 2, 3, 5]}, ends_itself).run())


def test_a_trial_that_exits_fails_alone_in_worker_processes():
    outcome = check_exits(tune.GridSearch({"x": [0, 1, 2, 3, 4, 5]}, ends_itself, n_jobs=2).run())
    assert outcome[4][0] == "failed"
    assert outcome[4][1].startswith("the worker process died while running this trial")


def test_a_trial_that_exits_fails_alone_on_dask(cluster_factory):
    # One worker death is enough for the scheduler to give up on a task (its
    # default is 4: the same path, slower).
    client, _ = cluster_factory(allowed_failures=0)
    outcome = check_exits(tune.GridSearch({"x": [0, 1, 2, 3, 4, 5]}, ends_itself).run(client=client))
    assert outcome[4][0] == "failed"
    assert outcome[4][1].startswith("the worker process died while running this trial (KilledWorker")


@needs_sigint
@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "caught by the objective"])
def test_ctrl_c_stops_a_search_in_this_process(tmp_path, swallow, ctrl_c_raises):
    grid = {"x": [0, 1, 2], "local": [True], "swallow": [swallow]}
    search = tune.GridSearch(grid, interrupts_its_search, storage=tmp_path / "s.db")
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        search.run()
    assert time.monotonic() - start < 60  # a hang guard: the objective would work on for 120 s
    # The interrupted trial is not a failure of its own: it is not stored, a rerun runs it.
    assert [(t.id, t.status) for t in tune.Result.load(tmp_path / "s.db").trials] == [("t0", "ok")]


@needs_sigint
def test_ctrl_c_stops_a_search_in_worker_processes(tmp_path, ctrl_c_raises):
    grid = {"x": [0, 1, 2, 3], "local": [False], "swallow": [False]}
    search = tune.GridSearch(grid, interrupts_its_search, storage=tmp_path / "s.db", n_jobs=2)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        search.run()
    assert time.monotonic() - start < 60  # a hang guard: the workers are stopped, not waited for
    assert "t1" not in {t.id for t in tune.Result.load(tmp_path / "s.db").trials}


# -- trials that hang ---------------------------------------------------------------------

def check_timeouts(result, timeout, hung=(1, 2)):
    outcome = by_x(result)
    assert {x for x, (status, _) in outcome.items() if status == "timeout"} == set(hung)
    assert {status for x, (status, _) in outcome.items() if x not in hung} == {"ok"}
    for trial in result.trials:
        if trial.status == "timeout":
            assert trial.error.startswith(f"stopped after timeout_per_trial = {timeout:g} s")
            assert trial.seconds >= timeout


def test_a_hung_trial_times_out_with_one_job():
    start = time.monotonic()
    result = tune.GridSearch({"x": [0, 1, 2, 4]}, hangs, timeout_per_trial=0.5).run()
    check_timeouts(result, 0.5)
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("pool", ["loky", "standard library"])
def test_hung_trials_time_out_in_worker_processes(pool, monkeypatch):
    if pool == "standard library":
        monkeypatch.setattr(runners, "_loky_executor", lambda: None)
    start = time.monotonic()
    result = tune.GridSearch({"x": [0, 1, 2, 4, 5, 6, 7]}, hangs, n_jobs=2, timeout_per_trial=0.5).run()
    check_timeouts(result, 0.5)
    assert time.monotonic() - start < 20


@pytest.mark.skipif(sys.platform == "win32", reason="calls libc's sleep through ctypes")
def test_a_trial_stuck_holding_the_gil_is_stopped_by_the_coordinator(monkeypatch):
    # Its worker cannot even report: the coordinator stops it by its own clock
    # (a grace shortened from 30 s, still well beyond a worker's start-up).
    monkeypatch.setattr(runners, "_REPORT_GRACE", 2.0)
    result = tune.GridSearch({"x": [3, 4]}, hangs, timeout_per_trial=0.5).run()
    assert by_x(result) == {3: ("timeout", "stopped after timeout_per_trial = 0.5 s (its worker did not "
                                           "answer: stuck in code that holds the GIL?)"),
                            4: ("ok", None)}


def test_hung_trials_time_out_on_dask(cluster_factory):
    client, _ = cluster_factory()
    pids = set(client.run(os.getpid).values())
    start = time.monotonic()
    result = tune.GridSearch({"x": [0, 1, 2, 4, 5, 6]}, hangs, timeout_per_trial=1).run(client=client)
    check_timeouts(result, 1)
    assert time.monotonic() - start < 20
    # Only a new process stops a hung thread: the nannies restarted those workers.
    client.wait_for_workers(2, timeout=10)
    assert set(client.run(os.getpid).values()) != pids


def test_a_hung_trial_on_a_dask_worker_without_a_nanny_times_out_with_a_warning():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        with pytest.warns(RuntimeWarning, match=r"which has no nanny to restart it: the trial's thread runs on"):
            result = tune.GridSearch({"x": [0, 1, 4]}, hangs, timeout_per_trial=0.5).run(client=client)
    check_timeouts(result, 0.5, hung=(1,))


# -- workers lost --------------------------------------------------------------------------

def runs(log):
    """[(x, start time)] of every call logged by logged_run."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(int(line.split()[0]), float(line.split()[1])) for line in lines]


def stored_at(db):
    """{trial id: when it was stored} (read while the search writes, as any SQLite client may)."""
    if not db.exists():
        return {}
    connection = sqlite3.connect(db)
    try:
        return dict(connection.execute("SELECT id, finished_at FROM trials"))
    except sqlite3.OperationalError:  # the search has created the file, not yet its tables
        return {}
    finally:
        connection.close()


def test_dask_workers_killed_twice_lose_no_trial_and_rerun_none(cluster_factory, tmp_path):
    client, cluster = cluster_factory()
    log, db, n = tmp_path / "runs.log", tmp_path / "s.db", 12
    search = tune.GridSearch({"x": list(range(n))}, functools.partial(logged_run, str(log)), storage=db)
    kills, in_flight = [], []

    def kill_all_workers_twice():
        """SIGKILL every worker (their nannies restart them), then client.restart()."""
        for after, how in ((3, "SIGKILL"), (7, "restart")):
            while len(stored_at(db)) < after:
                in_flight.append(len(cluster.scheduler.tasks))
                time.sleep(0.02)
            if how == "SIGKILL":
                for pid in client.run(os.getpid).values():
                    os.kill(pid, signal.SIGKILL)
            else:
                client.restart()
            kills.append(time.monotonic())

    killer = threading.Thread(target=kill_all_workers_twice, daemon=True)
    start = time.monotonic()
    killer.start()
    result = search.run(client=client)
    seconds = time.monotonic() - start
    killer.join(10)
    assert len(kills) == 2, "the workers were not killed twice mid-run"

    assert [t.status for t in result.trials] == ["ok"] * n
    calls = runs(log)
    finished = stored_at(db)
    # No trial ran again once stored; those running at a kill ran again, once.
    assert not [(x, t) for x, t in calls if t > finished[f"t{x}"]]
    per_trial = Counter(x for x, _ in calls)
    assert set(per_trial) == set(range(n)) and max(per_trial.values()) <= 3
    # Results are released once stored: the cluster never holds many more
    # trials than a few per slot (2 slots here), let alone all 12.
    assert max(in_flight) <= 6
    print(f"\nkilled twice: {result.counts()}, (runs, trials) {sorted(Counter(per_trial.values()).items())}, "
          f"{len(calls)} runs, at most {max(in_flight)} tasks on the scheduler, {seconds:.1f} s")


def test_dask_trials_lost_too_often_are_reported_and_left_for_a_rerun(cluster_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(runners, "_RESUBMITS", 0)  # the first loss is final
    client, _ = cluster_factory()
    log, db = tmp_path / "runs.log", tmp_path / "s.db"
    search = tune.GridSearch({"x": list(range(8))}, functools.partial(logged_run, str(log)), storage=db)

    def restart_once():
        while len(stored_at(db)) < 2:
            time.sleep(0.02)
        client.restart()

    threading.Thread(target=restart_once, daemon=True).start()
    with pytest.raises(tune.TrialsLost, match=r"lost to the cluster") as lost:
        search.run(client=client)
    assert lost.value.trial_ids and set(lost.value.trial_ids).isdisjoint(stored_at(db))
    assert len(stored_at(db)) + len(lost.value.trial_ids) == 8
    # Not stored: a rerun runs exactly them.
    before = len(runs(log))
    result = search.run(client=client)
    assert [t.status for t in result.trials] == ["ok"] * 8
    assert sorted(f"t{x}" for x, _ in runs(log)[before:]) == sorted(lost.value.trial_ids)
