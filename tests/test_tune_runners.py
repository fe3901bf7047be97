"""caviar: trials in local worker processes and on a Dask cluster."""
import os
import time

import pytest

import fastnn
import fastnn._runtime
from fastnn import tune
from fastnn.tune import runners
from tune_helpers import SPACE, bowl_with_failures, crash_on_three, report_threads


def outcomes(result):
    return sorted((t.id, str(t.params), t.status, str(t.metrics), t.error) for t in result.trials)


def search(n_jobs, **kwargs):
    return tune.RandomSearch(SPACE, bowl_with_failures, n_trials=12, seed=0, n_jobs=n_jobs, **kwargs)


@pytest.fixture(scope="module")
def sequential():
    return search(1).run()


def test_caviar_gives_the_same_results_as_one_process(sequential):
    parallel = search(2).run()
    assert outcomes(parallel) == outcomes(sequential)
    assert {t.status for t in parallel.trials} == {"ok", "failed", "diverged"}
    assert [t.id for t in parallel.trials] == [t.id for t in sequential.trials]  # planned order


def test_caviar_without_joblib_uses_the_standard_library(sequential, monkeypatch):
    monkeypatch.setattr(runners, "_loky_executor", lambda: None)
    assert outcomes(search(2).run()) == outcomes(sequential)


def _have_cloudpickle():
    try:
        import cloudpickle  # noqa: F401
    except ImportError:
        try:
            from joblib.externals import cloudpickle  # noqa: F401
        except ImportError:
            return False
    return True


@pytest.mark.skipif(not _have_cloudpickle(), reason="lambdas need cloudpickle (joblib or dask)")
def test_caviar_accepts_lambdas_and_closures():
    offset = 0.5
    result = tune.RandomSearch({"x": tune.Uniform(0, 1)}, lambda p: {"dev_error": p["x"] + offset},
                               n_trials=4, seed=0, n_jobs=2).run()
    assert all(t.status == "ok" and t.metrics["dev_error"] >= offset for t in result.trials)


def test_an_unpicklable_objective_is_a_clear_error():
    import threading
    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"n_jobs > 1 sends the objective to worker processes, but it cannot be pickled"):
        tune.RandomSearch({"x": tune.Uniform(0, 1)}, lambda p: {"dev_error": p["x"], "lock": lock},
                          n_trials=2, n_jobs=2).run()


def test_threads_per_trial_share_the_cores():
    grid = {"x": [0, 1, 2, 3]}
    result = tune.GridSearch(grid, report_threads, n_jobs=2).run()
    assert {t.metrics["threads"] for t in result.trials} == {max(1, runners.usable_cores() // 2)}
    assert os.getpid() not in {t.metrics["pid"] for t in result.trials}
    result = tune.GridSearch(grid, report_threads, n_jobs=2, threads_per_trial=2).run()
    assert {t.metrics["threads"] for t in result.trials} == {2 if fastnn._runtime.pool_threaded() else 1}
    # In this process, the caller's setting is restored afterwards.
    before = fastnn.get_num_threads()
    result = tune.GridSearch(grid, report_threads, threads_per_trial=1).run()
    assert {t.metrics["threads"] for t in result.trials} == {1} and fastnn.get_num_threads() == before


def test_a_trial_that_kills_its_worker_fails_alone():
    result = tune.GridSearch({"x": [0, 1, 2, 3, 4, 5]}, crash_on_three, n_jobs=2).run()
    status = {t.params["x"]: t.status for t in result.trials}
    assert status == {0: "ok", 1: "ok", 2: "ok", 3: "failed", 4: "ok", 5: "ok"}
    crashed = next(t for t in result.trials if t.params["x"] == 3)
    assert crashed.error.startswith("the worker process died while running this trial")


# -- Dask -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster:
        yield cluster


def test_dask_cluster_gives_the_same_results(sequential, cluster):
    import distributed
    with distributed.Client(cluster) as client:
        assert outcomes(search(1).run(client=client)) == outcomes(sequential)
        deadline = time.monotonic() + 5
        while client.who_has():  # nothing left behind on the cluster, once released
            assert time.monotonic() < deadline, client.who_has()
            time.sleep(0.05)
    # A scheduler address works too: the search opens and closes its own client.
    assert outcomes(search(1).run(client=cluster.scheduler_address)) == outcomes(sequential)


def test_dask_coarse_to_fine_with_a_store(cluster, tmp_path):
    import distributed
    space = {"learning_rate": SPACE["learning_rate"], "beta": SPACE["beta"]}
    local = tune.CoarseToFine(space, bowl_with_failures, n_trials_per_round=5, rounds=2, seed=1).run()
    with distributed.Client(cluster) as client:
        on_dask = tune.CoarseToFine(space, bowl_with_failures, n_trials_per_round=5, rounds=2, seed=1,
                                    storage=tmp_path / "s.db").run(client=client)
    assert outcomes(on_dask) == outcomes(local)
    assert outcomes(tune.Result.load(tmp_path / "s.db")) == outcomes(local)


def test_a_bad_client_is_a_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(TypeError, match=r"run\(client=...\): expected a dask.distributed.Client or a scheduler "
                                        r"address string; got int"):
        search(1).run(client=3)


def test_dask_worker_processes_get_their_share_of_the_cores():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        worker_pid = next(iter(client.run(os.getpid).values()))
        result = tune.GridSearch({"x": [0, 1, 2, 3]}, report_threads).run(client=client)
    assert {t.status for t in result.trials} == {"ok"}
    assert {t.metrics["pid"] for t in result.trials} == {worker_pid}
    # The worker runs two trials at a time: each gets half of its machine's cores.
    assert {t.metrics["threads"] for t in result.trials} == {max(1, runners.usable_cores() // 2)}
